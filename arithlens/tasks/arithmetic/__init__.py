"""Arithmetic tasks (``al.tasks`` exports their vocabulary): the spec (:mod:`.spec`), problems
and their digits (:mod:`.problems`), column arithmetic (:mod:`.ops`), carry and cascade labels
(:mod:`.labels`), answer formats (:mod:`.formats`), samplers (:mod:`.samplers`,
:mod:`.balanced`), clean/corrupt pairs (:mod:`.pairs`) and carry-chain minimal pairs
(:mod:`.minimal`)."""
