use ttlog::info;

fn main() {
    info!("order captured", %std::env::var("ORDER").unwrap_or_default().len());
}
