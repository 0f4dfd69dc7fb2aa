// Every mistake is reported at once, and the function is kept: `main` compiles against it.
#[ttlog::instrument(level = "loud", verbose, skip(password), name = "a", name = "b")]
fn login(user: &str, passwd: &str) -> bool {
    user.len() + passwd.len() > 3
}

fn main() {
    let _ = login("ada", "x");
}
