use health_runtime::health_check;

#[health_check]
async fn database() {}

fn main() {}
