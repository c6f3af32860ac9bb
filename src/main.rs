use clap::Parser;

use presign_stack::cli::Cli;
use presign_stack::output::Printer;

fn main() {
    // clap exits 2 on a usage error, the code that means "differences found" for diff (and
    // "problems found" for url explain): a mistyped flag must not read as drift in CI. Usage
    // errors exit 1 like every other error; --help and --version exit 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            std::process::exit(if e.use_stderr() { 1 } else { 0 });
        }
    };
    let mut printer = Printer::stdio(cli.global.verbose);
    printer.json = cli.global.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let status = runtime.block_on(presign_stack::run(cli, &printer, None));
    std::process::exit(status.code());
}
