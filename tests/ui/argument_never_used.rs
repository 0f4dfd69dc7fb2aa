use ttlog::info;

fn main() {
    info!("order {} captured", 7, 40 + 2);
}
