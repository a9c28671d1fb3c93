use std::rc::Rc;

use health_runtime::health_check;

async fn ping() {}

#[health_check]
async fn database() -> bool {
    let connections = Rc::new(1);
    ping().await;
    *connections > 0
}

fn main() {}
