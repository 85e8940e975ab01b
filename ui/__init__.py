"""What the pages share: session and workspace state (:mod:`.state`), the server's long-lived services
(:mod:`.services`), the sidebar (:mod:`.sidebar`), the live training panel (:mod:`.job_panel`), page helpers
(:mod:`.page`) and the few browser-side adjustments (:mod:`.streamlit_fixes`). Nothing here imports TensorFlow.
"""
