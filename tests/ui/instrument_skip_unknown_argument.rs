#[ttlog::instrument(skip(password))]
fn login(user: &str, passwd: &str) {}

fn main() {
    login("ada", "x");
}
