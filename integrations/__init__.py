"""Training-side adapters and the coach that turns training progress into workouts."""
