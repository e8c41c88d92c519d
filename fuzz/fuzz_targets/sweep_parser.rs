//! Any text given as a sweep file either parses or yields a `SpecError`; expanding the
//! first and last trials of an accepted grid also never panics.
#![no_main]

use std::path::Path;

use hyperplane_coordinator::sweep::Sweep;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(sweep) = Sweep::from_toml(text, Path::new("fuzz.toml")) else { return };
    let n = sweep.len();
    for index in [0, n / 2, n.saturating_sub(1), n] {
        let _ = sweep.trial(index);
    }
    let _ = sweep.axes();
});
