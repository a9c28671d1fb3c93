use health_runtime::HealthAware;

#[derive(HealthAware)]
#[health(check = "not_async", method = "not_async")]
#[health(check = "with_argument", method = "with_argument")]
#[health(check = "bad_output", method = "bad_output")]
struct Handler;

impl Handler {
    fn not_async(&self) -> bool {
        true
    }

    async fn with_argument(&self, limit: u32) -> bool {
        limit > 0
    }

    async fn bad_output(&self) -> String {
        String::new()
    }
}

fn main() {}
