//! Progress on stderr, only when stderr is a terminal: bytes, rate and time left for
//! transfers, recipients for `deliver --wait`. Through a pipe or a file nothing is drawn, so
//! scripts see only the result.

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether progress is drawn at all (stderr is a terminal).
pub fn enabled() -> bool {
    std::io::stderr().is_terminal()
}

fn bar(len: Option<u64>, template: &str) -> ProgressBar {
    if !enabled() {
        return ProgressBar::hidden();
    }
    let bar = match len {
        Some(len) => ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr()),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A transfer of `len` bytes (unknown: a counter with the rate, no time left).
pub fn bytes(label: &str, len: Option<u64>) -> ProgressBar {
    let template = if len.is_some() {
        "{prefix} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} {eta} left"
    } else {
        "{prefix} {spinner} {bytes} {binary_bytes_per_sec}"
    };
    let bar = bar(len, template);
    bar.set_prefix(label.to_owned());
    bar
}

/// Recipients of a delivery: sent or failed out of `total`.
pub fn recipients(total: u64) -> ProgressBar {
    let bar = bar(
        Some(total),
        "{prefix} [{bar:30}] {pos}/{len} recipients {msg} ({elapsed})",
    );
    bar.set_prefix("deliver");
    bar
}
