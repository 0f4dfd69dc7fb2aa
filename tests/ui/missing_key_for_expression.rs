use ttlog::info;

fn main() {
    let amount = 5;
    info!(user_id = 1, amount * 2, "payment captured");
}
