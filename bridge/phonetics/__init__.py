"""Articulatory phonetics shared by the model's training targets and the transcript path.

``phones_to_model_output`` turns timed ARPAbet phones (CMU / pocketsphinx) into the same
``ModelOutput`` the acoustic model emits, through the documented phone table (``table``) and the
dominance-function coarticulation model (``dynamics``). Numpy only.
"""

from bridge.phonetics.dynamics import phones_to_model_output
from bridge.phonetics.table import PHONES, PhoneTarget, controls_to_ema, ema_to_controls, normalize_phone

__all__ = ["PHONES", "PhoneTarget", "controls_to_ema", "ema_to_controls", "normalize_phone", "phones_to_model_output"]
