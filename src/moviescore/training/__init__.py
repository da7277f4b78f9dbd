"""From raw partitions to a champion: splits, features, the candidate model specs,
fitting, experiment tracking and the promotion rule."""
