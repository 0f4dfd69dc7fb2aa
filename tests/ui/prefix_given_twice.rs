fn main() {
    ttlog::info!(target: "billing", target: "payments", "invoice sent");
}
