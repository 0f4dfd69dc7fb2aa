use ttlog::info;

fn main() {
    info!("order {} captured for {}", 7);
}
