struct Cart {
    items: u32,
}

fn main() {
    let cart = Cart { items: 3 };
    let _span = ttlog::info_span!("checkout", cart);
    let _ = cart.items;
}
