"""The review-priority model: features, the plain-JSON logistic model, training, metrics."""
