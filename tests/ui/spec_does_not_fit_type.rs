use ttlog::info;

fn main() {
    let ratio = 0.5f64;
    info!("ratio {:x}", ratio);
}
