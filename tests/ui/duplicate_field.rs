use ttlog::info;

fn main() {
    info!("payment captured", order_id = 1, order_id = 2);
}
