use ttlog::info;

struct Order {
    id: u64,
}

fn main() {
    let order = Order { id: 7 };
    info!("order captured", order);
    let _ = order.id;
}
