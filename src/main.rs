//! Entry point: everything lives in the library so tests and benchmarks drive the same code.

fn main() {
    std::process::exit(flinkup::run());
}
