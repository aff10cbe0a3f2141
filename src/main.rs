//! The `nagbridge` binary.

fn main() {
    eprintln!("nagbridge: not yet");
    std::process::exit(2);
}
