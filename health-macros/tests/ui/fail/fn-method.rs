use health_runtime::health_check;

// The attribute sees a `self` receiver wherever the function is; at module level the compiler's
// own "`self` parameter is only allowed in associated functions" error follows it.
#[health_check]
async fn database(&self) -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
