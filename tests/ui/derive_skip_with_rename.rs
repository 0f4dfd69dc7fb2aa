#[derive(ttlog::Fields)]
struct Login {
    #[ttlog(skip, rename = "pw")]
    password: String,
}

fn main() {}
