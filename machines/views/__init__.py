"""Browser pages of the machines app, one module per area: the machine-type library, metadata
import and editing (`types`), and sensor-data uploads (`uploads`)."""
