use clap::Parser;

use presign_stack::cli::Cli;
use presign_stack::output::Printer;

fn main() {
    let cli = Cli::parse();
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
