"""Evaluation against labelled clips: the dataset format (`dataset`), scores as pure functions
(`metrics`) and the runner behind `hallwatch eval` (`runner`)."""
