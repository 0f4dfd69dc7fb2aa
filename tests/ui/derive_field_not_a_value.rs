#[derive(ttlog::Fields)]
struct Job {
    id: u64,
    tags: Vec<String>,
}

fn main() {}
