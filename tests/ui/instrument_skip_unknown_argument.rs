#[ttlog::instrument(skip(password))]
fn login(user: &str, passwd: &str) -> bool {
    user.len() + passwd.len() > 3
}

fn main() {
    login("ada", "x");
}
