use ttlog::info;

fn main() {
    info!("payment captured", = 5);
}
