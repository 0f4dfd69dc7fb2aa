#[derive(ttlog::Fields)]
struct Login {
    #[ttlog(display, redact)]
    password: String,
}

fn main() {}
