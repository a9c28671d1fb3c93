use health_runtime::health_check;

#[health_check]
struct Database {
    url: String,
}

fn main() {}
