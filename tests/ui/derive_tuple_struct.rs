#[derive(ttlog::Fields)]
struct Point(i32, i32);

fn main() {}
