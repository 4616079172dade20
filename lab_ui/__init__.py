"""The Streamlit UI layer shared by the pages: state and widget keys (state), shared cached
resources (resources), charts and image helpers (charts), the chunked training loop (training)
and what every page shows (layout). fmnist_lib stays UI-free; pages stay thin."""
