"""The Streamlit studio's logic (streamlit_app.py draws it): calls to the API and the words and
tables built from its answers. Nothing here imports streamlit or loads a model."""
