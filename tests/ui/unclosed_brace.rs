use ttlog::info;

fn main() {
    info!("order {id captured", id = 7);
}
