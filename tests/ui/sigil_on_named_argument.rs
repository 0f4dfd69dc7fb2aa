use ttlog::info;

fn main() {
    let total = 1.5;
    info!("total {total}", total = %total);
}
