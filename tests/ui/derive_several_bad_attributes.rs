#[derive(ttlog::Fields)]
struct Login {
    #[ttlog(rename)]
    user: String,
    #[ttlog(colour = "red")]
    attempts: u32,
}

fn main() {}
