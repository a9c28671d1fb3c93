use std::rc::Rc;

use health_runtime::HealthAware;

#[derive(HealthAware)]
#[health(check = "local", method = "local")]
struct Handler;

impl Handler {
    async fn local(&self) -> bool {
        let shared = Rc::new(true);
        std::future::ready(()).await;
        *shared
    }
}

fn main() {}
