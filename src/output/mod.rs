//! The printer: results to stdout, progress and logs to stderr, colour only on a terminal and
//! never with `NO_COLOR`. Nothing else in the program prints.

pub mod render;

#[cfg(test)]
mod tests;

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

type Sink = Arc<Mutex<Box<dyn Write + Send>>>;

#[derive(Clone)]
struct Spinners {
    multi: indicatif::MultiProgress,
    bars: Arc<Mutex<std::collections::BTreeMap<String, indicatif::ProgressBar>>>,
}

#[derive(Clone)]
pub struct Printer {
    out: Sink,
    err: Sink,
    /// On a terminal: one spinner line per running step (with its elapsed time).
    spinners: Option<Spinners>,
    pub color: bool,
    pub verbose: bool,
    /// `--json`: results are one JSON document on stdout; human results are not printed.
    pub json: bool,
}

/// The version of the `--json` documents; raised when a field changes meaning or goes away.
pub const JSON_FORMAT_VERSION: u32 = 1;

impl Printer {
    /// The process's stdout and stderr.
    pub fn stdio(verbose: bool) -> Printer {
        let color = std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let spinners = std::io::stderr().is_terminal().then(|| Spinners {
            multi: indicatif::MultiProgress::new(),
            bars: Arc::default(),
        });
        Printer {
            out: Arc::new(Mutex::new(Box::new(std::io::stdout()))),
            err: Arc::new(Mutex::new(Box::new(std::io::stderr()))),
            spinners,
            color,
            verbose,
            json: false,
        }
    }

    /// A printer writing into memory (for tests): returns it and the two buffers.
    pub fn capture() -> (Printer, Captured, Captured) {
        let out = Captured::default();
        let err = Captured::default();
        (
            Printer {
                out: Arc::new(Mutex::new(Box::new(out.clone()))),
                err: Arc::new(Mutex::new(Box::new(err.clone()))),
                spinners: None,
                color: false,
                verbose: true,
                json: false,
            },
            out,
            err,
        )
    }

    fn write(sink: &Sink, text: &str) {
        if let Ok(mut w) = sink.lock() {
            let _ = w.write_all(text.as_bytes());
            let _ = w.flush();
        }
    }

    /// A result for people, to stdout (not in `--json` mode).
    pub fn result(&self, text: &str) {
        if !self.json {
            Self::write(&self.out, text);
        }
    }

    /// The `--json` result: `fields` with `format_version` added, to stdout.
    pub fn json_result(&self, mut fields: serde_json::Value) {
        if !self.json {
            return;
        }
        if let Some(map) = fields.as_object_mut() {
            map.insert("format_version".into(), JSON_FORMAT_VERSION.into());
        }
        let text = serde_json::to_string_pretty(&fields).unwrap_or_default();
        Self::write(&self.out, &format!("{text}\n"));
    }

    /// A line of progress, to stderr, with the time on each line.
    pub fn progress(&self, line: &str) {
        Self::write(
            &self.err,
            &format!("[{}] {line}\n", crate::clock::now_rfc3339()),
        );
    }

    /// A step starts: a spinner with its elapsed time on a terminal, a timestamped line otherwise.
    pub fn step_started(&self, id: &str, line: &str) {
        match &self.spinners {
            Some(s) => {
                let bar = s.multi.add(indicatif::ProgressBar::new_spinner());
                if let Ok(style) =
                    indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                {
                    bar.set_style(style);
                }
                bar.set_message(line.to_string());
                bar.enable_steady_tick(std::time::Duration::from_millis(100));
                if let Ok(mut bars) = s.bars.lock() {
                    bars.insert(id.to_string(), bar);
                }
            }
            None => self.progress(line),
        }
    }

    /// A step ends: its spinner line becomes `line` (or a timestamped line is printed).
    pub fn step_finished(&self, id: &str, line: &str) {
        let bar = self
            .spinners
            .as_ref()
            .and_then(|s| s.bars.lock().ok().and_then(|mut b| b.remove(id)));
        match bar {
            Some(bar) => {
                // The finished line says how long it took itself: no spinner, no second timer.
                if let Ok(style) = indicatif::ProgressStyle::with_template("✓ {msg}") {
                    bar.set_style(style);
                }
                bar.finish_with_message(line.to_string())
            }
            None => self.progress(line),
        }
    }

    /// A message to the user, to stderr.
    pub fn info(&self, text: &str) {
        Self::write(&self.err, &format!("{text}\n"));
    }

    /// Detail shown with `-v` only.
    pub fn debug(&self, text: &str) {
        if self.verbose {
            Self::write(&self.err, &format!("{text}\n"));
        }
    }

    pub fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// An in-memory output buffer.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        self.0
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A step's duration for people: `40 ms` under a second, else `1.2 s`, `2m 05s` from a minute.
pub fn duration(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    match ms {
        0..=999 => format!("{ms} ms"),
        1000..=59_999 => format!("{:.1} s", d.as_secs_f64()),
        _ => format!("{}m {:02}s", d.as_secs() / 60, d.as_secs() % 60),
    }
}
