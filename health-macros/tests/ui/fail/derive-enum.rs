use health_runtime::HealthAware;

#[derive(HealthAware)]
enum Handler {
    A,
}

#[derive(HealthAware)]
union Raw {
    a: u32,
}

fn main() {}
