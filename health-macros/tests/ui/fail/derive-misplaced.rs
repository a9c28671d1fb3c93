use health_runtime::HealthAware;

#[derive(HealthAware)]
#[health(check = "cache", timeout = "1s")]
#[health(skip)]
struct Handler {
    #[health(check = "db", method = "ping")]
    a: u8,
    #[health(skip, timeout = "1s")]
    b: u8,
    #[health(check = "startup")]
    c: u8,
}

fn main() {}
