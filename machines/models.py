"""Machine types, machines and telemetry (tenant schema). Built by the machines-and-telemetry
issue; the app exists now so that the tenant schema layout is fixed from the start."""
