#[derive(ttlog::Fields)]
enum Outcome {
    Ok,
    Failed,
}

fn main() {}
