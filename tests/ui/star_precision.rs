use ttlog::info;

fn main() {
    info!("total {:.*}", 2, 1.5);
}
