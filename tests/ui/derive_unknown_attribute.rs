#[derive(ttlog::Fields)]
struct Login {
    #[ttlog(hidden)]
    password: String,
}

fn main() {}
