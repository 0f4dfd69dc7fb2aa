use ttlog::info;

fn main() {
    let order = 7;
    info!(format!("order {order} captured"));
}
