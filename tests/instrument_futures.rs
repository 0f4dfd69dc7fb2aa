//! `#[instrument]` on functions that return a future without being `async fn`: `-> impl
//! Future` built by hand, and `async-trait` methods (`Pin<Box<dyn Future + Send>>`). The
//! future is polled inside the span on whichever thread runs it, events inside carry the
//! span, `err` sees the awaited result, and the span closes when the future is dropped.

mod common;

use std::future::Future;

use serde_json::json;
use ttlog::{LogLevel, info, instrument};

#[instrument(err)]
fn fetch_price(sku: u64) -> impl Future<Output = Result<u64, String>> + Send {
    info!("building the request");
    async move {
        tokio::task::yield_now().await;
        info!("response received");
        if sku == 0 {
            Err("unknown sku".to_owned())
        } else {
            Ok(sku * 100)
        }
    }
}

#[async_trait::async_trait]
trait Inventory {
    async fn reserve(&self, sku: u64, quantity: u32) -> Result<u32, String>;
}

struct Warehouse;

#[async_trait::async_trait]
impl Inventory for Warehouse {
    #[instrument(skip(self), err)]
    async fn reserve(&self, sku: u64, quantity: u32) -> Result<u32, String> {
        tokio::task::yield_now().await;
        info!("reserving");
        if quantity > 10 {
            return Err(format!("only 10 of {sku} left"));
        }
        Ok(quantity)
    }
}

#[test]
fn futures_run_inside_their_span() {
    let (handle, out) = common::json_logger(LogLevel::Info);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    runtime.block_on(async {
        let price = tokio::spawn(fetch_price(12)).await.unwrap();
        assert_eq!(price, Ok(1200));
        assert!(fetch_price(0).await.is_err());
        let warehouse = Warehouse;
        assert_eq!(warehouse.reserve(5, 3).await, Ok(3));
        assert!(warehouse.reserve(5, 30).await.is_err());
    });
    handle.flush();
    let lines = out.json();
    let with = |message: &str| -> Vec<&serde_json::Value> {
        lines.iter().filter(|l| l["message"] == message).collect()
    };
    for event in [
        "building the request",
        "response received",
        "fetch_price started",
    ] {
        let found = with(event);
        assert_eq!(found.len(), 2, "{event}: {lines:#?}");
        assert_eq!(
            found[0]["span"],
            json!({"name": "fetch_price", "sku": 12}),
            "{event}"
        );
    }
    let failed = with("fetch_price failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["fields"]["error"], "unknown sku");
    assert_eq!(with("fetch_price closed").len(), 2);

    let reserving = with("reserving");
    assert_eq!(reserving.len(), 2);
    assert_eq!(
        reserving[0]["span"],
        json!({"name": "reserve", "sku": 5, "quantity": 3})
    );
    let failed = with("reserve failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["fields"]["error"], "only 10 of 5 left");
    assert_eq!(with("reserve closed").len(), 2);
}
