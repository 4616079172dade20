"""Display names of the library's model kinds and optimizers: the UI's words, not the library's."""

MODEL_TITLES = {"softmax": "Softmax regression", "cnn": "Small CNN"}
OPTIMIZER_TITLES = {"sgd": "SGD", "momentum": "SGD with momentum", "adam": "Adam"}
