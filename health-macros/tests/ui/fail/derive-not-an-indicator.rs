use health_runtime::HealthAware;

struct Pool;

#[derive(HealthAware)]
struct Handler {
    #[health(check = "database")]
    pool: Pool,
}

fn main() {}
